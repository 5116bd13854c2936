"""The classifier's behaviour on messages written for these tests (none of them is in the corpus)."""

import pytest

from classifier.normalize import strip_diacritics, views

CASES = [
    ("Đường Nguyễn Hữu Cảnh ngập sâu nửa bánh xe sau cơn mưa chiều nay", "drainage_flooding"),
    ("Khu phố tôi bị cúp điện từ 6 giờ sáng tới giờ chưa có lại", "electricity"),
    ("Nhà tôi mất nước sinh hoạt hai ngày nay, vòi không chảy giọt nào", "water_supply"),
    ("Quán nhậu đầu hẻm mở loa hát karaoke tới 1 giờ sáng", "noise"),
    ("Xe buýt số 56 bỏ trạm, tài xế chạy ẩu", "public_transport"),
    ("Cho tôi hỏi thủ tục làm lại căn cước công dân bị mất", "admin_procedures"),
    ("Đèn đường trên đường Trường Chinh tắt cả tuần, tối om", "public_lighting"),
    ("Rác thải bốc mùi hôi thối ở bãi đất trống đầu hẻm không ai thu gom", "environment"),
]


@pytest.mark.parametrize("text, field", CASES)
def test_typical_messages_get_their_field(clf, text, field):
    assert clf.classify(text).field == field


@pytest.mark.parametrize("text, field", CASES)
def test_text_without_diacritics_gets_the_same_field(clf, text, field):
    plain = strip_diacritics(text)
    assert plain != text
    assert clf.classify(plain).field == field


@pytest.mark.parametrize("text, field", [
    ("ko co nuoc may 2 ngay r, mn oi ai bik sao ko", "water_supply"),
    ("cup dien hoai z, tuan nay cup 3 lan r", "electricity"),
    ("alo dạ em báo là đèn giao thông ngã tư nguyễn văn linh tắt hết rồi xe chạy lộn xộn lắm", "traffic"),
    ("The street light in front of my apartment has been off for a week", "public_lighting"),
    ("There is a big pothole on Vo Van Kiet street, motorbikes keep falling", "urban_infrastructure"),
])
def test_teencode_transcripts_and_english(clf, text, field):
    assert clf.classify(text).field == field


@pytest.mark.parametrize("text", ["alo", "cho hỏi chút", "có ai trực không ạ", "asdkjh qwe zzz", "ok"])
def test_unclear_text_goes_to_other(clf, text):
    assert clf.classify(text).field == "other"


def test_no_field_is_given_below_the_threshold(clf, model):
    from classifier.corpus import HELDOUT_DIR, load_dir

    texts = [e.text for e in load_dir(HELDOUT_DIR)]
    results = clf.classify_batch(texts)
    assert any(r.confidence < model.threshold for r in results)  # the probe reaches the unsure zone
    for r in results:
        if r.confidence < model.threshold:
            assert r.field == "other"
            # The guesses stay visible to the person who triages.
            assert r.alternatives and r.alternatives[0][0] != "other"


def test_the_threshold_decides_the_field(clf, model):
    text = "Cây đổ chắn ngang đường Nguyễn Thị Minh Khai"
    confident = clf.classify(text)
    assert confident.field == "trees" and confident.confidence >= model.threshold
    original = model.threshold
    try:
        model.threshold = 1.01  # nothing is sure enough any more
        unsure = clf.classify(text)
        assert unsure.field == "other"
        assert unsure.alternatives[0][0] == "trees"
    finally:
        model.threshold = original


@pytest.mark.parametrize("text, urgent", [
    ("Cây đổ đè lên hai xe máy trên đường Pasteur, có người bị thương", True),
    ("cay to nga chan het duong Ly Thuong Kiet, xe ko qua dc", True),
    ("Dây điện trước nhà tóe lửa liên tục, sợ cháy", True),
    ("Nhà kế bên đang cháy lớn, khói đen mù mịt", True),
    ("Nắp cống giữa đường Cách Mạng Tháng Tám bị mất, rất nguy hiểm", True),
    ("A tree fell across Dien Bien Phu street and blocked all lanes", True),
    ("Cây xanh trước nhà cành lá rậm rạp, đề nghị cắt tỉa giúp", False),
    ("Hóa đơn tiền điện tháng này cao bất thường", False),
    ("Cho hỏi thủ tục cấp giấy phép xây dựng nhà ở riêng lẻ", False),
])
def test_urgent_hazards_are_flagged(clf, text, urgent):
    assert clf.classify(text).urgent is urgent


@pytest.mark.parametrize("text, lang", [
    ("Đường ngập nước", "vi"), ("duong bi ngap nuoc qua troi", "vi"), ("The bus skipped my stop", "en"),
    ("道路被淹了", "zh"), ("Bonjour, la rue est inondée depuis hier", "fr"),
])
def test_language(clf, text, lang):
    assert clf.classify(text).language == lang


def test_output_shape(clf):
    r = clf.classify("Đèn đường hẻm 12 tắt")
    assert 0 <= r.confidence <= 1 and len(r.alternatives) == 2
    assert all(f != r.field and 0 <= p <= 1 for f, p in r.alternatives)
    assert r.model_version.startswith("clf-")


def test_empty_text_is_other_with_zero_confidence(clf):
    r = clf.classify("   ")
    assert (r.field, r.confidence, r.alternatives) == ("other", 0.0, ())


def test_normalisation_views():
    accented, folded = views("Đường NGẬP nướccc quá!!!! gọi 0901 234 567, ko dc")
    assert accented == "đường ngập nước quá! gọi _phone_ , ko dc"
    assert folded == "duong ngap nuoc qua ! goi _phone_ , khong duoc"
