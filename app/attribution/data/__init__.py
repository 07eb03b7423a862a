"""Package data for attribution: legal forms and mail-provider domain lists (see build_lists.py)."""
