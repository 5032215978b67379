"""The dashboard in Russian and Kazakh: ``?lang=`` (remembered in a cookie), Accept-Language, English by
default; translated navigation, headings, table headers and decline reasons; money per locale; and
catalogues that translate every message the templates and the marked Python texts use."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from sandbox.city import CryptoCity
from sandbox.i18n import LOCALES, format_money, po_path
from sandbox.web import create_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """AIFC classic: Aigerim holds only BTC, so her coffee needs a crypto sale and is declined 57; Dana pays
    from her tenge and is approved."""
    path = tmp_path_factory.mktemp("languages") / "city.db"
    city = CryptoCity.from_config("aifc-classic", db=f"sqlite:///{path}", seed=7)
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": 1_000_000})
    city.onboard(actor="dana", kyc_tier="full", deposits={"KZT": 1_234_567_89})
    assert city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_500_00, ref="c1").response_code == "57"
    assert city.pay(actor="dana", merchant="alatau-coffee", amount_minor=1_500_00, ref="c2").status == "approved"
    city.verify()
    yield create_app(city, {"TESTING": True, "OPEN_DASHBOARD": True}).test_client()
    city.close()


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def h1(page: str) -> str:
    return re.search(r"<h1>(.*?)</h1>", page).group(1)


def test_russian_by_query_parameter_is_remembered_in_a_cookie(client):
    client.delete_cookie("lang")
    page = text(client.get("/regulator?lang=ru"))
    assert '<html lang="ru">' in page and h1(page) == "Регулятор"
    assert "<h2>Лицензии</h2>" in page and "<h2>Отказы по причинам</h2>" in page
    assert "<th>Лицензия</th><th>Владелец</th>" in page                      # table headers
    assert ">Обзор</a>" in page and ">Кошелёк и карта</a>" in page          # navigation
    assert ">Приостановить</button>" in page                                # buttons
    assert "операция не разрешена держателю карты (AIFC classic" in page    # the 57, translated, and its detail
    again = text(client.get("/regulator"))                                  # no parameter: the cookie decides
    assert h1(again) == "Регулятор"
    client.delete_cookie("lang")


def test_kazakh_from_accept_language_with_its_decline_reason_on_the_statement(client):
    client.delete_cookie("lang")
    page = text(client.get("/wallet?customer=aigerim", headers={"Accept-Language": "kk-KZ,kk;q=0.9,ru;q=0.5"}))
    assert '<html lang="kk">' in page and h1(page) == "Әмиян және карта"
    assert "<h3>Үзінді көшірме</h3>" in page and "<th>Сатушы</th>" in page
    assert "операцияға карта ұстаушысына рұқсат етілмеген" in page
    pos = text(client.get("/pos", headers={"Accept-Language": "kk"}))
    assert h1(pos) == "POS-терминал" and ">Төлеу</button>" in pos


def test_english_by_default_and_when_asked(client):
    client.delete_cookie("lang")
    page = text(client.get("/regulator"))
    assert '<html lang="en">' in page and h1(page) == "Regulator" and "<h2>Licences</h2>" in page
    assert "digital assets may not be used as a means of payment" in page
    text(client.get("/regulator?lang=ru"))
    back = text(client.get("/regulator?lang=en", headers={"Accept-Language": "ru"}))
    assert h1(back) == "Regulator" and "Declines by reason" in back
    switcher = re.search(r'<span class="langs" id="languages">(.*?)</span>', back).group(1)
    assert 'href="?lang=ru"' in switcher and ">Қазақша</a>" in switcher and ">Русский</a>" in switcher
    client.delete_cookie("lang")


def test_money_is_formatted_per_locale(client):
    assert format_money(1_234_567_89, "KZT", 2, "ru") == "1\xa0234\xa0567,89\xa0KZT"   # no-break spaces, comma
    assert format_money(1_234_567_89, "KZT", 2, "kk") == "1\xa0234\xa0567,89\xa0₸"
    assert format_money(-123_456_789, "BTC", 8, "ru") == "-1,23456789\xa0BTC"          # every ledger decimal
    assert format_money(1, "USDT", 6, "kk", with_code=False) == "0,000001"
    client.delete_cookie("lang")
    ru = text(client.get("/wallet?customer=dana&lang=ru"))
    assert "1\xa0233\xa0067,89\xa0KZT" in ru                                            # 1 234 567.89 − 1 500.00
    en = text(client.get("/wallet?customer=dana&lang=en"))
    assert "1 233 067.89 KZT" in en
    client.delete_cookie("lang")


def _messages(path: Path) -> dict[str, str]:
    from babel.messages.pofile import read_po
    with path.open("rb") as f:
        catalog = read_po(f)
    return {m.id: (m.string, m.fuzzy) for m in catalog if m.id}


def test_catalogues_translate_every_message_the_dashboard_uses():
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

    method_map = [("sandbox/i18n/**.py", "python"), ("sandbox/web/dashboard/**.py", "python"),
                  ("sandbox/web/templates/**.html", "jinja2")]
    used = {message for _, _, message, _, _ in extract_from_dir(
        str(ROOT), method_map=method_map, keywords={**DEFAULT_KEYWORDS, "N_": None})}
    template = _messages(ROOT / "sandbox" / "i18n" / "messages.pot")
    assert used == set(template), "run the pybabel extract and update of docs/dashboard.md#languages"
    for locale in LOCALES[1:]:
        translated = _messages(po_path(locale))
        assert set(translated) == set(template), locale
        untranslated = [m for m, (string, fuzzy) in translated.items() if not string or fuzzy]
        assert untranslated == [], (locale, untranslated)
    kazakh = _messages(po_path("kk"))
    assert re.search("[әғқңөұүһі]", " ".join(string for string, _ in kazakh.values()))
    for message, (string, _) in kazakh.items():   # Cyrillic, but for placeholders, codes and names kept from English
        english_words = set(re.findall("[A-Za-z]+", message))
        latin = [w for w in re.findall("[A-Za-z]+", re.sub(r"%\(\w+\)s", "", string))
                 if re.search("[a-z]{4,}", w) and w not in english_words]
        assert latin == [], (message, string)
        if re.search("[a-z]{4,}", re.sub(r"%\(\w+\)s", "", message)):
            assert re.search("[а-яё]", string), (message, string)


def test_every_decline_reason_of_the_card_is_marked_for_translation():
    from card.response_codes import REASONS
    from sandbox.i18n.marked import DECLINE_REASONS
    assert sorted(DECLINE_REASONS) == sorted(REASONS.values())


def test_every_incident_is_marked_for_translation():
    from sandbox.i18n.marked import INCIDENT_LABELS
    from sandbox.incidents.service import LABELS
    assert sorted(INCIDENT_LABELS) == sorted(LABELS.values())


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_every_page_renders_in_both_languages(client, lang):
    client.delete_cookie("lang")
    headings = {"ru": {"/": "Обзор", "/pos": "POS-терминал", "/wallet?customer=dana": "Кошелёк и карта",
                       "/ledger": "Обозреватель книги", "/regulator": "Регулятор", "/webhooks": "Вебхуки"},
                "kk": {"/": "Шолу", "/pos": "POS-терминал", "/wallet?customer=dana": "Әмиян және карта",
                       "/ledger": "Кітап шолушысы", "/regulator": "Реттеуші", "/webhooks": "Вебхуктар"}}[lang]
    for path, heading in headings.items():
        page = text(client.get(path + ("&" if "?" in path else "?") + f"lang={lang}"))
        assert h1(page) == heading, path
    book = text(client.get(f"/orderbook?symbol=BTC/KZT&lang={lang}"))
    assert {"ru": "<h2>Глубина рынка</h2>", "kk": "<h2>Нарық тереңдігі</h2>"}[lang] in book
    client.delete_cookie("lang")


@pytest.mark.parametrize("lang, farms, levy_paid, no_farm", [
    ("ru", "<h2>Фермы</h2>", "<th>Сбор уплачен</th>", "Ферм пока не зарегистрировано"),
    ("kk", "<h2>Фермалар</h2>", "<th>Төленген алым</th>", "Әзірге фермалар тіркелмеген"),
])
def test_the_mining_page_is_translated(client, lang, farms, levy_paid, no_farm):
    page = text(client.get(f"/mining?lang={lang}"))
    assert farms in page and levy_paid in page and no_farm in page
    assert "Licensed farms" not in page and "Detection cases" not in page
    client.delete_cookie("lang")


@pytest.mark.parametrize("lang, heading, start, header", [
    ("ru", "<h2>Инциденты</h2>", ">Начать</button>", "<th>Инцидент</th><th>Параметры</th>"),
    ("kk", "<h2>Инциденттер</h2>", ">Бастау</button>", "<th>Инцидент</th><th>Параметрлер</th>"),
])
def test_the_regulators_incident_form_is_translated(client, lang, heading, start, header):
    page = text(client.get(f"/regulator?lang={lang}"))
    assert 'id="incident-form"' in page                                     # the open dashboard acts as the host
    assert heading in page and start in page and header in page
    assert {"ru": ">Обвал цены</option>", "kk": ">Баға құлдырауы</option>"}[lang] in page   # the incidents to pick
    assert ">Start</button>" not in page and "No incidents yet." not in page
    client.delete_cookie("lang")


def test_the_charts_speak_the_pages_language(client):
    """The order book's depth chart and the regulator's charts format amounts as their page does."""
    client.delete_cookie("lang")
    for path in ("/orderbook?symbol=BTC/KZT", "/regulator"):
        ru = text(client.get(f"{path}&lang=ru" if "?" in path else f"{path}?lang=ru"))
        en = text(client.get(f"{path}&lang=en" if "?" in path else f"{path}?lang=en"))
        ru_svg = " ".join(re.findall(r"<svg.*?</svg>", ru, re.S))
        en_svg = " ".join(re.findall(r"<svg.*?</svg>", en, re.S))
        assert re.search(r"\d,\d{2}\xa0KZT", ru_svg), path          # 38 000 000,00 KZT: comma, no-break space
        assert not re.search(r"\d\.\d{2} KZT", ru_svg), path
        assert re.search(r"\d\.\d{2} KZT", en_svg), path            # English keeps the ledger's format
    client.delete_cookie("lang")
