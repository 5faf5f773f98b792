"""How messages leave: the provider interface (base.py) and one module per real provider; the
local sandbox is each of them pointed at campaigns/sandbox."""
