"""Names of the business events the ticket domain publishes to events.log (SPEC §7).

Workflow actions publish `ticket.<event>` with the event name of their row in workflow.py
(`ticket.assigned`, `ticket.accepted`, …)."""

TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
TICKET_DELETED = "ticket.deleted"
COMMENT_ADDED = "comment.added"
COMMENT_EDITED = "comment.edited"
COMMENT_DELETED = "comment.deleted"
ATTACHMENT_ADDED = "attachment.added"
ATTACHMENT_REMOVED = "attachment.removed"
ORPHAN_FILES_REMOVED = "attachment.orphans_removed"  # manage.py cleanup_orphan_files --delete


def workflow_event(history_event: str) -> str:
    return f"ticket.{history_event}"
