"""SQL for casework, one module per topic: the only place in casework that talks to asyncpg.

Callers keep `from casework import store; await store.get_case(conn, case_id)`: every name below is
re-exported, so a caller need not know which topic module holds it.
"""

from __future__ import annotations

from casework.store.assignment import (
    agents_on_call,
    assignable_people,
    lock_assignment,
    set_presence,
    waiting_cases,
)
from casework.store.cases import (
    CASE_COLUMNS,
    CASE_FROM,
    CaseFilter,
    attachment,
    claim_case,
    claim_unprocessed,
    department_exists,
    department_names,
    dumps,
    duplicates_of,
    get_case,
    get_case_by_code,
    insert_attachments,
    intake,
    list_cases,
    record_process_failure,
    unprocessed_count,
    update_case,
)
from casework.store.citizens import citizen, citizen_address, link_citizen
from casework.store.conversations import (
    JOINABLE,
    answers_of,
    case_answered_to,
    case_in_reply_window,
    case_quoted_by,
    case_referenced,
    case_to_rate,
    claim_media,
    finish_media,
    inbound_message,
    intake_follow_up,
    locate_case,
    opted_out,
    own_case_by_code,
    queue_media,
    record_edit,
    record_provider_status,
    reset_stuck_media,
    save_rating,
    set_opt_out,
    set_segments,
    store_media,
)
from casework.store.corrections import field_corrections
from casework.store.dead_letters import (
    active_admin,
    case_exists,
    case_process_attempts,
    failed_jobs,
    failed_messages,
    gave_up_cases,
    insert_failed_job,
    lock_failed_job,
    lock_outbound,
    mark_job_replayed,
    message_case_id,
    requeue_outbound,
    staff_events,
)
from casework.store.deadlines import (
    bump_paused,
    case_pauses,
    cases_under_deadline,
    end_pause,
    notifications,
    notify,
    pauses_of,
    start_pause,
    unaccepted_cases,
)
from casework.store.events import Event, case_events, insert_event, insert_events
from casework.store.outbox import (
    case_messages,
    claim_outbound,
    claim_outbound_batch,
    finish_outbound,
    insert_outbound,
    outbox_waiting,
    public_replies,
    reset_stuck_sends,
)
from casework.store.requests import claim_request, finish_request
from casework.store.staff import (
    clear_login_failures,
    department_known,
    insert_api_token,
    insert_session,
    insert_user,
    login_failures,
    open_failure_row,
    prune_login_failures,
    revoke_token,
    revoke_user_tokens,
    save_login_failures,
    set_user_active,
    sign_in_row,
    staff_user_id,
    token_owner,
)

__all__ = [
    # cases: intake, read, list, update, attachments, units
    "CASE_COLUMNS", "CASE_FROM", "intake", "insert_attachments", "get_case", "get_case_by_code", "CaseFilter",
    "list_cases", "update_case", "duplicates_of", "attachment",
    "department_exists", "department_names",
    "dumps", "claim_unprocessed", "claim_case", "record_process_failure", "unprocessed_count",
    # the case history
    "case_events", "insert_event", "insert_events", "Event",
    # citizens and their identities
    "link_citizen", "citizen_address", "citizen",
    # outbound messages and a case's messages
    "insert_outbound", "claim_outbound", "finish_outbound", "reset_stuck_sends", "public_replies", "case_messages",
    "claim_outbound_batch", "outbox_waiting",
    # conversations: follow-ups, opt-outs, delivery reports, provider media
    "JOINABLE", "case_quoted_by", "case_in_reply_window", "intake_follow_up", "set_opt_out", "opted_out",
    "record_provider_status", "set_segments", "queue_media", "claim_media", "finish_media", "store_media",
    "reset_stuck_media", "agents_on_call", "inbound_message", "case_referenced", "locate_case", "record_edit",
    "own_case_by_code", "save_rating", "case_to_rate", "case_answered_to", "answers_of",
    # deadlines, clock pauses, unaccepted forwards, notices
    "cases_under_deadline", "case_pauses", "unaccepted_cases", "notify", "notifications", "start_pause",
    "end_pause", "pauses_of", "bump_paused",
    # staff idempotency keys
    "claim_request", "finish_request",
    # staff users, tokens, sessions, failed sign-ins
    "department_known", "insert_user", "staff_user_id", "set_user_active", "sign_in_row", "insert_api_token",
    "insert_session", "revoke_user_tokens", "revoke_token", "token_owner", "login_failures", "open_failure_row",
    "save_login_failures", "prune_login_failures", "clear_login_failures",
    # the assignment queue
    "lock_assignment", "assignable_people", "waiting_cases", "set_presence",
    # staff field corrections, for training
    "field_corrections",
    # dead letters: cases given up, messages failed, jobs out of tries; their replay
    "gave_up_cases", "failed_messages", "failed_jobs", "insert_failed_job", "lock_failed_job", "mark_job_replayed",
    "case_process_attempts", "staff_events", "lock_outbound", "requeue_outbound", "message_case_id", "case_exists",
    "active_admin",
]
