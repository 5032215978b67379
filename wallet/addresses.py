"""Address validation per chain: bech32 checksum and network for Bitcoin, EIP-55 for Ethereum."""
from __future__ import annotations

from bip_utils.bech32 import SegwitBech32Decoder
from eth_utils import is_checksum_address, is_hex_address

from .errors import BadAddress

CHAIN_OF_ASSET = {"BTC": "bitcoin", "ETH": "ethereum"}


def validate_btc_address(address: str, hrp: str = "bcrt") -> bytes:
    """Return the 20-byte witness program of a P2WPKH ``address`` on network ``hrp`` or raise BadAddress."""
    if not isinstance(address, str) or not 14 <= len(address) <= 90:
        raise BadAddress("that is not a Bitcoin address", address=str(address)[:100])
    if not address.lower().startswith(hrp + "1"):
        raise BadAddress(f"this Bitcoin address is for another network (expected one starting {hrp}1)",
                         address=address)
    try:
        version, program = SegwitBech32Decoder.Decode(hrp, address)
    except Exception:  # noqa: BLE001 - bip-utils raises several types for a bad checksum
        raise BadAddress("the Bitcoin address has a typo (its bech32 checksum does not match)",
                         address=address) from None
    if version != 0 or len(program) != 20:
        raise BadAddress("only native SegWit P2WPKH addresses (bcrt1q…, 42 characters) are supported",
                         address=address)
    return bytes(program)


def validate_eth_address(address: str) -> str:
    """Return ``address`` if it is an EIP-55 checksummed Ethereum address, else raise BadAddress."""
    if not isinstance(address, str) or not is_hex_address(address):
        raise BadAddress("that is not an Ethereum address (0x followed by 40 hex digits)",
                         address=str(address)[:100])
    if not is_checksum_address(address):
        raise BadAddress("the Ethereum address has a typo or no EIP-55 checksum (mixed case)", address=address)
    return address


def validate_address(chain: str, address: str, *, btc_hrp: str = "bcrt") -> str:
    """Validate ``address`` for ``chain`` ("bitcoin" or "ethereum"); returns its canonical form."""
    if chain == "bitcoin":
        validate_btc_address(address, btc_hrp)
        return address.lower()
    if chain == "ethereum":
        return validate_eth_address(address)
    raise BadAddress(f"unknown chain {chain!r}", address=str(address)[:100])
