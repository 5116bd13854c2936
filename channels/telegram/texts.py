"""What the bot says, Vietnamese first and English, and the words on its buttons."""

from __future__ import annotations

from typing import Any

START = {
    "vi": "Xin chào! Đây là Đường dây nóng 1022.\n"
          "Hãy nhắn nội dung phản ánh: sự việc gì, ở đâu (số nhà, đường, phường). Bạn có thể gửi kèm ảnh, "
          "video, tin nhắn thoại, tệp, hoặc chia sẻ vị trí.\n"
          "Chúng tôi sẽ gửi mã hồ sơ để bạn theo dõi kết quả xử lý.\n\n"
          "/status <mã hồ sơ>: tra cứu hồ sơ\n"
          "/new: mở phản ánh mới\n"
          "/lang en: English",
    "en": "Hello! This is the 1022 hotline.\n"
          "Send your report: what happened and where (house number, street, ward). You can add photos, "
          "videos, voice messages, files, or share your location.\n"
          "We will send you a case code to follow it.\n\n"
          "/status <case code>: check a case\n"
          "/new: open a new report\n"
          "/lang vi: Tiếng Việt",
}
LANG_SET = {
    "vi": "Đã chuyển sang tiếng Việt.",
    "en": "The bot will answer in English.",
}
LANG_USAGE = {
    "vi": "Chọn ngôn ngữ: /lang vi (tiếng Việt) hoặc /lang en (English).",
    "en": "Choose a language: /lang vi (Tiếng Việt) or /lang en (English).",
}
STATUS_USAGE = {
    "vi": "Gửi /status kèm mã hồ sơ, ví dụ: /status 123 456 789 0",
    "en": "Send /status with the case code, e.g. /status 123 456 789 0",
}
STATUS_INVALID = {
    "vi": "Mã hồ sơ không hợp lệ: mã gồm 10 chữ số, vui lòng kiểm tra lại.",
    "en": "That is not a valid case code: it has 10 digits, please check them.",
}
STATUS_NOT_FOUND = {
    "vi": "Không tìm thấy hồ sơ {code}.",
    "en": "No case has the code {code}.",
}
STATUS = {
    "vi": "Hồ sơ {code}: {status}",
    "en": "Case {code}: {status}",
}
STATUS_FIELD = {"vi": "Lĩnh vực: {value}", "en": "Field: {value}"}
STATUS_UNIT = {"vi": "Đơn vị xử lý: {value}", "en": "Handled by: {value}"}
STATUS_DUE = {"vi": "Hạn xử lý: {value}", "en": "Due by: {value}"}
STATUS_ANSWER = {"vi": "Trả lời: {value}", "en": "Answer: {value}"}
STATUS_LINK = {"vi": "Chi tiết: {value}", "en": "Details: {value}"}
NEW_PROMPT = {
    "vi": "Hãy nhắn nội dung phản ánh mới: tin nhắn tiếp theo của bạn sẽ mở một hồ sơ mới.",
    "en": "Send your new report: your next message opens a new case.",
}
UNSUPPORTED = {
    "vi": "Xin lỗi, đường dây nóng chưa nhận được loại tin này. Vui lòng gửi nội dung phản ánh bằng chữ, ảnh, "
          "video, tin nhắn thoại, tệp hoặc vị trí.",
    "en": "Sorry, the hotline cannot take this kind of message. Please send your report as text, a photo, "
          "a video, a voice message, a file or a location.",
}
RATED = {
    "rated": {"vi": "Cảm ơn bạn đã đánh giá!", "en": "Thank you for your rating!"},
    "reopened": {"vi": "Hồ sơ {code} đã được mở lại để xử lý tiếp.", "en": "Case {code} has been reopened."},
    "too_late": {"vi": "Đã quá 7 ngày kể từ khi trả lời nên hồ sơ không mở lại được: hãy gửi phản ánh mới (/new).",
                 "en": "The answer is more than 7 days old, so the case cannot be reopened: send a new report (/new)."},
    "not_answered": {"vi": "Hồ sơ {code} chưa được trả lời.", "en": "Case {code} has not been answered yet."},
    "not_found": {"vi": "Không tìm thấy hồ sơ này của bạn.", "en": "We found no such case of yours."},
}
RATE_PROMPT = {
    "vi": "Câu trả lời có giải quyết được vấn đề của bạn không? Hãy đánh giá từ 1 đến 5 sao, "
          "hoặc bấm «Chưa giải quyết».",
    "en": "Did this answer solve your problem? Rate it from 1 to 5 stars, or tap “Not solved”.",
}
NOT_SOLVED_BUTTON = {"vi": "Chưa giải quyết", "en": "Not solved"}
NEW_CASE_BUTTON = {"vi": "Mở hồ sơ mới", "en": "New case"}
STAR = "⭐"

# Case text for what comes without words (a caption, when there is one, is the text).
PHOTO = "(Ảnh)"
DOCUMENT = "(Tệp)"
VOICE = "(Tin nhắn thoại)"
VIDEO = "(Video)"
AUDIO = "(Âm thanh)"
LOCATION = "(Vị trí)"


def say(table: dict[str, str], locale: str, **values: Any) -> str:
    """The text in the locale (Vietnamese when there is none), filled in."""
    return table.get(locale, table["vi"]).format(**values)
