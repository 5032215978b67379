"""Bitcoin: P2WPKH transactions, the embedded regtest node and a bitcoind RPC adapter."""
