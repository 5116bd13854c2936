"""The browser harness on a page that needs no sign-in: a citizen's report through the public form."""

from __future__ import annotations

from tests.console.conftest import processed, report


async def test_a_report_sent_with_the_form_is_stored_and_processed(page, hotline):
    case_id = await report(page, hotline, "Đèn đường hỏng trước nhà số 12 Lê Lợi")

    assert await hotline.pool.fetchval("SELECT description FROM cases WHERE id = $1", case_id) \
        == "Đèn đường hỏng trước nhà số 12 Lê Lợi"
    await processed(hotline, case_id)
