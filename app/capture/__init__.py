"""Capture: the one entry point from a verified chat or ticket tool payload to a signal (see router.py)."""
