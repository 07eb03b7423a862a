"""Mandates: what a contributor may do with a signal (only report, propose to the customer, or also quote)."""
