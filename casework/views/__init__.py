"""The staff API under /api/v1: cases (list, read, correct), their lifecycle and assignment, messages, the session."""

from __future__ import annotations

from aiohttp import web

from casework.views.cases import case_json, get_case, list_cases, update_case
from casework.views.lifecycle import (
    assign,
    change_status,
    confirm_duplicate,
    pause,
    resume,
    transfer,
    unlink_duplicate,
)
from casework.views.messages import add_note, attachment, reply
from casework.views.session import login, logout, me, my_notifications, presence

__all__ = [
    "add_note", "assign", "attachment", "case_json", "change_status", "confirm_duplicate", "get_case", "list_cases",
    "login", "logout", "me", "my_notifications", "pause", "presence", "reply", "resume", "setup", "transfer",
    "unlink_duplicate", "update_case",
]


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/v1/cases", list_cases)
    r.add_get("/api/v1/cases/{case_id}", get_case)
    r.add_patch("/api/v1/cases/{case_id}", update_case)
    r.add_post("/api/v1/cases/{case_id}/status", change_status)
    r.add_post("/api/v1/cases/{case_id}/replies", reply)
    r.add_post("/api/v1/cases/{case_id}/notes", add_note)
    r.add_post("/api/v1/cases/{case_id}/transfer", transfer)
    r.add_post("/api/v1/cases/{case_id}/assign", assign)
    r.add_post("/api/v1/cases/{case_id}/pause", pause)
    r.add_post("/api/v1/cases/{case_id}/resume", resume)
    r.add_post("/api/v1/cases/{case_id}/duplicate/confirm", confirm_duplicate)
    r.add_post("/api/v1/cases/{case_id}/duplicate/unlink", unlink_duplicate)
    r.add_get("/api/v1/notifications", my_notifications)
    r.add_put("/api/v1/me/presence", presence)
    r.add_get("/api/v1/attachments/{attachment_id}", attachment)
    r.add_post("/api/v1/session", login)
    r.add_delete("/api/v1/session", logout)
    r.add_get("/api/v1/me", me)
