"""Accounts: password hashing, login throttling, the logged-in user and lab roles."""
