"""Tickets, comments and attachments (SPEC §4)."""
