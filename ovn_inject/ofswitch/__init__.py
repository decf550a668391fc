"""Each service as a virtual OpenFlow 1.3 switch (``ovn-inject ofswitch``).

Pure parts: :mod:`wire` (framing, replies), :mod:`oxm` (matches as data),
:mod:`translate` (OpenFlow -> OVN's language), :mod:`targets` (OVS target
syntax), :mod:`session` (one connection's state machine). The shells:
:mod:`store` (OVN_Inject) and :mod:`daemon` (asyncio endpoints).
"""
