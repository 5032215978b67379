"""The city's bitcoind JSON-RPC (``sandbox/btc_rpc.py``) answers as bitcoind does: the chain's blocks and
transactions, the mempool, refusals with bitcoind's reject reasons (typed again by ``BitcoindRPC``), basic
authentication. One server over one chain for the module."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from decimal import Decimal

import pytest
from bitcoin.core import CBlock, COutPoint, CMutableTransaction, CMutableTxIn, CMutableTxOut, CTransaction, lx

from ledger import Database, Ledger, ManualClock
from sandbox.btc_rpc import BitcoinRpc
from sandbox.btc_rpc_server import BtcRpcServer
from wallet.bitcoin.node import GENESIS_HASH, RegtestNode
from wallet.bitcoin.rpc import BitcoindRPC
from wallet.bitcoin.transactions import build_spend, script_for_address, sign_p2wpkh
from wallet.errors import BadSignature, DoubleSpend, MissingInput, OutputsExceedInputs, Unsigned
from wallet.keys import HDKeys, MasterSeed

KEYS = HDKeys(MasterSeed.for_sandbox("btc-rpc"))
ALICE, BOB = KEYS.key("bitcoin", "deposit", 0), KEYS.key("bitcoin", "deposit", 1)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('btc-rpc') / 'chain.db'}")
    db.migrate(["ledger", "wallet"])
    node = RegtestNode(Ledger(db, ManualClock()), seed=3)
    server = BtcRpcServer(BitcoinRpc(node), user="satoshi", password="hunter2").start()
    yield node, server, BitcoindRPC(server.url("hunter2"), mine_to_address=BOB.address)
    server.stop()
    db.dispose()


def _raw(server, body, password="hunter2") -> tuple[int, object]:
    auth = base64.b64encode(f"satoshi:{password}".encode()).decode()
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/", json.dumps(body).encode(),
                                     {"Authorization": f"Basic {auth}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read() or b"null", parse_float=Decimal)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null", parse_float=Decimal)


def test_blocks_and_transactions_read_as_bitcoind_writes_them(chain):
    node, server, rpc = chain
    assert rpc.call("getblockhash", 0) == GENESIS_HASH      # Bitcoin's own regtest genesis
    txid = rpc.faucet(ALICE.address, 150_000)
    assert rpc.call("getmempoolinfo")["size"] == 1 and rpc.confirmations(txid) == 0
    [block_hash] = rpc.mine(1)
    info = rpc.call("getblockchaininfo")
    assert info["chain"] == "regtest" and info["blocks"] == rpc.height() == node.height()
    assert info["bestblockhash"] == block_hash == rpc.call("getbestblockhash")
    block = rpc.call("getblock", block_hash)
    assert block["height"] == node.height() and txid in block["tx"] and block["confirmations"] == 1
    raw = bytes.fromhex(rpc.call("getblock", block_hash, 0))
    assert CBlock.deserialize(raw).GetHash()[::-1].hex() == block_hash   # a real header, hashed as Bitcoin does
    verbose = rpc.call("getblock", block_hash, 2)["tx"][0]
    assert verbose["txid"] == txid and verbose["vout"][0]["value"] == Decimal("0.0015")
    assert verbose["vout"][0]["scriptPubKey"]["address"] == ALICE.address
    tx = rpc.call("getrawtransaction", txid, True)
    assert tx["blockhash"] == block_hash and tx["confirmations"] == 1
    assert CTransaction.deserialize(bytes.fromhex(rpc.call("getrawtransaction", txid))).GetTxid()[::-1].hex() == txid
    assert rpc.unspent([ALICE.address])[0].amount_sat == 150_000
    assert rpc.call("estimatesmartfee", 6) == {"feerate": Decimal("0.00002"), "blocks": 6}
    assert rpc.call("getmempoolinfo")["size"] == 0


def test_refusals_carry_bitcoinds_reasons_and_come_back_typed(chain):
    node, server, rpc = chain
    rpc.faucet(ALICE.address, 90_000)
    rpc.mine(1)
    coins = [(u, ALICE) for u in rpc.unspent([ALICE.address])]
    spend = build_spend(coins, [(BOB.address, 40_000)], ALICE.address, 2)
    [(utxo, _)] = [c for c in coins if c[0].txid == spend.inputs[0].txid and c[0].vout == spend.inputs[0].vout]
    height = node.height()
    tx = CMutableTransaction([CMutableTxIn(COutPoint(lx(utxo.txid), utxo.vout))],
                             [CMutableTxOut(utxo.amount_sat - 1_000, script_for_address(BOB.address))])
    cases = [(Unsigned, CTransaction.from_tx(tx)),
             (BadSignature, sign_p2wpkh(tx, [(BOB, utxo.amount_sat)])),
             (OutputsExceedInputs, sign_p2wpkh(CMutableTransaction(tx.vin, [CMutableTxOut(
                 utxo.amount_sat + 1, script_for_address(BOB.address))]), [(ALICE, utxo.amount_sat)])),
             (MissingInput, sign_p2wpkh(CMutableTransaction([CMutableTxIn(COutPoint(lx("ab" * 32), 0))], tx.vout),
                                        [(ALICE, 5_000)]))]
    for error, bad in cases:
        with pytest.raises(error) as refused:
            rpc.send_raw_transaction(bad)
        assert "bitcoind refused" in str(refused.value)
    status, answer = _raw(server, {"id": 7, "method": "sendrawtransaction", "params": [cases[2][1].serialize().hex()]})
    assert status == 500 and answer["error"]["code"] == -26 and answer["error"]["message"].startswith("bad-txns-in-belowout")
    sent = rpc.send_raw_transaction(spend.tx)
    assert sent == spend.txid
    with pytest.raises(DoubleSpend):
        rpc.send_raw_transaction(spend.tx)
    # the spent coin still shows in scantxoutset (the chainstate), but not as unspent to the adapter
    scanned = rpc.call("scantxoutset", "start", [f"addr({ALICE.address})"])["unspents"]
    assert any(u["txid"] == utxo.txid for u in scanned)
    assert all(u.txid != utxo.txid for u in rpc.unspent([ALICE.address]))
    assert rpc.call("gettxout", utxo.txid, utxo.vout) is None
    assert node.height() == height
    rpc.mine(1)
    assert rpc.confirmations(sent) == 1


def test_credentials_methods_and_requests_are_checked(chain):
    node, server, rpc = chain
    status, _ = _raw(server, {"id": 1, "method": "getblockcount", "params": []}, password="wrong")
    assert status == 401
    assert _raw(server, {"id": 2, "method": "stop", "params": []})[1]["error"]["code"] == -32601
    assert _raw(server, {"id": 3, "method": "getblockhash", "params": [10**6]})[1]["error"]["code"] == -8
    assert _raw(server, {"id": 4, "method": "sendtoaddress", "params": ["bc1qnotregtest", 1]})[1]["error"]["code"] == -5
    assert _raw(server, {"id": 5, "method": "getrawtransaction", "params": ["00" * 32]})[1]["error"]["code"] == -5
    assert _raw(server, {"id": 6, "method": "sendrawtransaction", "params": ["zz"]})[1]["error"]["code"] == -22
    status, batch = _raw(server, [{"id": 8, "method": "getblockcount", "params": []},
                                  {"id": 9, "method": "getbestblockhash", "params": []}])
    assert status == 200 and [r["id"] for r in batch] == [8, 9] and batch[0]["result"] == node.height()
    height = node.height()
    status, too_many = _raw(server, [{"id": n, "method": "generatetoaddress", "params": [1, BOB.address]}
                                     for n in range(101)])
    assert (status, too_many["error"]["code"]) == (400, -32600) and node.height() == height   # none of it ran
    for amount in ("Infinity", "NaN"):
        refused = _raw(server, {"id": 10, "method": "sendtoaddress", "params": [BOB.address, amount]})[1]
        assert refused["error"]["code"] == -3
    assert "hunter2" not in repr(rpc)


def test_serve_refuses_a_btc_rpc_port_without_a_password(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from sandbox.web.serve import serve_command
    monkeypatch.delenv("CRYPTOCITY_BTC_RPC_PASSWORD", raising=False)
    result = CliRunner().invoke(serve_command, ["--db", f"sqlite:///{tmp_path / 'x.db'}", "--btc-rpc-port", "18443"])
    assert result.exit_code == 2 and "CRYPTOCITY_BTC_RPC_PASSWORD" in result.output
    assert not (tmp_path / "x.db").exists()   # refused before anything started
