"""Configuration: presets load, errors name the key, regulatory constraints hold."""
from pathlib import Path

import pytest
import yaml

from sandbox.clock import DurationError, SandboxClock, parse_duration
from sandbox.config import ConfigError, config_from_dict, list_presets, load_config, preset_path


def preset_dict(name="crypto-city"):
    return yaml.safe_load(preset_path(name).read_text())


def problems(data):
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    return str(info.value)


def test_presets_load_with_amounts_in_minor_units():
    assert list_presets() == ["aifc-classic", "crypto-city", "pakistan-pcc-sandbox"]
    city = load_config("crypto-city")
    assert city.crypto_payments_allowed is True
    assert city.card.daily_limit_minor == 51_000_000  # "510 000.00 KZT"
    assert city.card.funding_order == ["KZTE", "USDT", "BTC", "ETH"]
    assert city.card.blocked_mccs == ["6010", "6011", "4829", "6012", "7995"]
    assert load_config("aifc-classic").crypto_payments_allowed is False


def test_unknown_key_is_named_with_allowed_keys():
    data = preset_dict()
    data["card"]["dayly_limit"] = "1.00 KZT"
    msg = problems(data)
    assert "card.dayly_limit: unknown key 'dayly_limit'" in msg
    assert "daily_limit" in msg.split("allowed keys here:")[1]
    assert "Traceback" not in msg


def test_bad_amount_and_missing_key_name_the_path():
    data = preset_dict()
    data["aml"]["large_transaction_threshold"] = "lots KZT"
    del data["card"]["test_bin"]
    msg = problems(data)
    assert "aml.large_transaction_threshold:" in msg and "not a number" in msg
    assert "card.test_bin: required key is missing" in msg


def test_kzte_issuer_under_afsa_is_refused_with_the_reason():
    data = preset_dict()
    data["participants"][2]["licences"][0]["regulator"] = "afsa"
    msg = problems(data)
    assert "participants[2].licences[0].regulator" in msg
    assert "do not allow the tenge" in msg and "nbk-sandbox" in msg


def test_card_pilot_must_come_from_the_national_bank_and_instruments_reference_assets():
    data = preset_dict()
    data["participants"][3]["licences"][1]["regulator"] = "afsa"
    data["instruments"][0]["base"] = "DOGE"
    msg = problems(data)
    assert "participants[3].licences[1].regulator: a crypto_card_pilot licence cannot come from afsa" in msg
    assert "instruments[0].base: 'DOGE' is not a declared asset" in msg


def test_market_maker_on_a_stablecoin_pair_is_refused_because_its_kzte_would_be_unbacked():
    data = preset_dict()
    data["market_makers"].append({"instrument": "KZTE/KZT", "levels": 3, "size": "100", "spread_bps": 5})
    msg = problems(data)
    at = len(data["market_makers"]) - 1
    assert f"market_makers[{at}].instrument: 'KZTE/KZT' trades KZTE" in msg and "minted against tenge" in msg


def test_invalid_yaml_and_unknown_preset(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sandbox:\n  name: x\n   seed: [\n")
    with pytest.raises(ConfigError, match="line"):
        load_config(bad)
    with pytest.raises(ConfigError, match="presets: aifc-classic, crypto-city"):
        load_config("no-such-city")


def test_copied_and_edited_preset_loads(tmp_path: Path):
    data = preset_dict()
    data["card"]["daily_limit"] = "100 000.00 KZT"
    data["card"]["per_transaction_limit"] = 5_000_000
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_config(path).card.daily_limit_minor == 10_000_000


def test_durations_and_clock():
    assert parse_duration("2h30m").total_seconds() == 9000
    assert parse_duration("3d").days == 3 and parse_duration("90s").total_seconds() == 90
    for bad in ("", "3x", "-1d", "1.5h", "abc"):
        with pytest.raises(DurationError):
            parse_duration(bad)
    clock = SandboxClock()
    before = clock.now()
    assert (clock.advance("1d") - before).days == 1


def test_timezone_defaults_to_almaty_and_an_unknown_zone_names_the_key():
    from datetime import UTC, datetime
    city = load_config("crypto-city")
    assert city.sandbox.timezone == "Asia/Almaty" and load_config("aifc-classic").sandbox.timezone == "Asia/Almaty"
    # UTC+5 since March 2024 on every machine (the zone comes from the tzdata package, not the system)
    midnight = datetime(2025, 6, 1, 19, 0, tzinfo=UTC).astimezone(city.sandbox.zone)
    assert midnight.isoformat() == "2025-06-02T00:00:00+05:00"
    data = preset_dict()
    del data["sandbox"]["timezone"]
    assert config_from_dict(data).sandbox.timezone == "Asia/Almaty"
    data["sandbox"]["timezone"] = "UTC"
    utc = config_from_dict(data).sandbox.zone
    assert datetime(2025, 6, 1, 19, 0, tzinfo=UTC).astimezone(utc).isoformat() == "2025-06-01T19:00:00+00:00"
    for bad, why in (("Asia/Almatyy", "no such time zone"), ("../../etc/passwd", "not a time zone name"),
                     (5, "valid string")):
        data["sandbox"]["timezone"] = bad
        msg = problems(data)
        assert "sandbox.timezone: " in msg and why in msg and "Traceback" not in msg


def test_a_limit_is_read_by_its_new_name_and_its_old_one_but_not_both():
    old, new = preset_dict(), preset_dict()
    for data in (old, new):
        data["card"].pop("daily_limit")
        data["kyc"]["tiers"]["basic"].pop("monthly_limit")
    old["card"]["daily_limit"], new["card"]["daily_limit_minor"] = "300 000.00 KZT", 30_000_000
    old["kyc"]["tiers"]["basic"]["monthly_limit"] = new["kyc"]["tiers"]["basic"]["monthly_limit_minor"] = 7
    for data in (old, new):
        cfg = config_from_dict(data)
        assert (cfg.card.daily_limit_minor, cfg.kyc.tiers["basic"].monthly_limit_minor) == (30_000_000, 7)
    both = preset_dict()
    both["card"]["daily_limit_minor"] = 30_000_000
    assert "card.daily_limit: 'daily_limit' is the old name of 'daily_limit_minor': give one of them" in problems(both)
