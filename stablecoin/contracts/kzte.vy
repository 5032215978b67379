# pragma version ~=0.4.3
"""
@title KZTE: a fiat-backed ERC-20 in the style of Circle's FiatToken
@notice Roles: owner (assigns the roles below), a master minter (configures and removes
        minters, as FiatToken's masterMinter), minters with a minting allowance each,
        a pauser (pause/unpause) and a regulator (freeze/unfreeze addresses: FiatToken's
        blacklister).
        Every refusal reverts with a reason string.
"""

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event MinterConfigured:
    minter: indexed(address)
    allowance: uint256

event MinterRemoved:
    minter: indexed(address)

event Mint:
    minter: indexed(address)
    receiver: indexed(address)
    value: uint256

event Burn:
    burner: indexed(address)
    value: uint256

event Paused:
    account: address

event Unpaused:
    account: address

event Frozen:
    account: indexed(address)

event Unfrozen:
    account: indexed(address)

event OwnershipTransferred:
    previous_owner: indexed(address)
    new_owner: indexed(address)

event PauserChanged:
    new_pauser: indexed(address)

event RegulatorChanged:
    new_regulator: indexed(address)

event MasterMinterChanged:
    new_master_minter: indexed(address)

name: public(String[64])
symbol: public(String[32])
decimals: public(uint8)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])

owner: public(address)
masterMinter: public(address)
pauser: public(address)
regulator: public(address)
paused: public(bool)
isMinter: public(HashMap[address, bool])
minterAllowance: public(HashMap[address, uint256])
isFrozen: public(HashMap[address, bool])


@deploy
def __init__(_name: String[64], _symbol: String[32], _decimals: uint8):
    self.name = _name
    self.symbol = _symbol
    self.decimals = _decimals
    self.owner = msg.sender
    self.masterMinter = msg.sender
    self.pauser = msg.sender
    self.regulator = msg.sender
    log OwnershipTransferred(previous_owner=empty(address), new_owner=msg.sender)


# --- internal checks -------------------------------------------------------

@internal
@view
def _only_owner():
    assert msg.sender == self.owner, "not the owner"


@internal
@view
def _only_master_minter():
    assert msg.sender == self.masterMinter, "not the master minter"


@internal
@view
def _not_paused():
    assert not self.paused, "paused"


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "zero address"
    assert not self.isFrozen[sender], "sender frozen"
    assert not self.isFrozen[receiver], "receiver frozen"
    assert self.balanceOf[sender] >= amount, "KZTE: transfer amount exceeds balance"
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)


# --- ERC-20 -----------------------------------------------------------------

@external
def transfer(receiver: address, amount: uint256) -> bool:
    self._not_paused()
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    self._not_paused()
    assert spender != empty(address), "zero address"
    assert not self.isFrozen[msg.sender], "owner frozen"
    assert not self.isFrozen[spender], "spender frozen"
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    self._not_paused()
    assert not self.isFrozen[msg.sender], "spender frozen"
    allowed: uint256 = self.allowance[sender][msg.sender]
    assert allowed >= amount, "KZTE: transfer amount exceeds allowance"
    self._transfer(sender, receiver, amount)
    if allowed != max_value(uint256):
        self.allowance[sender][msg.sender] = allowed - amount
    return True


# --- issuance ---------------------------------------------------------------

@external
def mint(receiver: address, amount: uint256) -> bool:
    self._not_paused()
    assert self.isMinter[msg.sender], "not a minter"
    assert not self.isFrozen[msg.sender], "minter frozen"
    assert receiver != empty(address), "zero address"
    assert not self.isFrozen[receiver], "receiver frozen"
    assert amount > 0, "mint amount must be positive"
    assert amount <= self.minterAllowance[msg.sender], "mint exceeds minter allowance"
    self.minterAllowance[msg.sender] -= amount
    self.totalSupply += amount
    self.balanceOf[receiver] += amount
    log Mint(minter=msg.sender, receiver=receiver, value=amount)
    log Transfer(sender=empty(address), receiver=receiver, value=amount)
    return True


@external
def burn(amount: uint256):
    """@notice A minter burns tokens it holds (redeemed tokens are sent to it first)."""
    self._not_paused()
    assert self.isMinter[msg.sender], "not a minter"
    assert not self.isFrozen[msg.sender], "minter frozen"
    assert amount > 0, "burn amount must be positive"
    assert self.balanceOf[msg.sender] >= amount, "KZTE: burn amount exceeds balance"
    self.balanceOf[msg.sender] -= amount
    self.totalSupply -= amount
    log Burn(burner=msg.sender, value=amount)
    log Transfer(sender=msg.sender, receiver=empty(address), value=amount)


# --- roles --------------------------------------------------------------------

@external
def configureMinter(minter: address, minting_allowance: uint256) -> bool:
    self._only_master_minter()
    assert minter != empty(address), "zero address"
    self.isMinter[minter] = True
    self.minterAllowance[minter] = minting_allowance
    log MinterConfigured(minter=minter, allowance=minting_allowance)
    return True


@external
def removeMinter(minter: address) -> bool:
    self._only_master_minter()
    assert self.isMinter[minter], "not a minter"
    self.isMinter[minter] = False
    self.minterAllowance[minter] = 0
    log MinterRemoved(minter=minter)
    return True


@external
def transferOwnership(new_owner: address):
    self._only_owner()
    assert new_owner != empty(address), "zero address"
    log OwnershipTransferred(previous_owner=self.owner, new_owner=new_owner)
    self.owner = new_owner


@external
def updateMasterMinter(new_master_minter: address):
    self._only_owner()
    assert new_master_minter != empty(address), "zero address"
    self.masterMinter = new_master_minter
    log MasterMinterChanged(new_master_minter=new_master_minter)


@external
def setPauser(new_pauser: address):
    self._only_owner()
    assert new_pauser != empty(address), "zero address"
    self.pauser = new_pauser
    log PauserChanged(new_pauser=new_pauser)


@external
def setRegulator(new_regulator: address):
    self._only_owner()
    assert new_regulator != empty(address), "zero address"
    self.regulator = new_regulator
    log RegulatorChanged(new_regulator=new_regulator)


@external
def pause():
    assert msg.sender == self.pauser, "not the pauser"
    self.paused = True
    log Paused(account=msg.sender)


@external
def unpause():
    assert msg.sender == self.pauser, "not the pauser"
    self.paused = False
    log Unpaused(account=msg.sender)


@external
def freeze(account: address):
    assert msg.sender == self.regulator, "not the regulator"
    assert account != empty(address), "zero address"
    self.isFrozen[account] = True
    log Frozen(account=account)


@external
def unfreeze(account: address):
    assert msg.sender == self.regulator, "not the regulator"
    self.isFrozen[account] = False
    log Unfrozen(account=account)
