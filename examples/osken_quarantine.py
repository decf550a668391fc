"""An unmodified os-ken (Ryu) application: quarantine one address on every switch that connects.

Run it with ``osken-manager examples/osken_quarantine.py`` (os-ken 3.x) and
point a service at it with ``ovn-inject service-set-openflow SERVICE
tcp:127.0.0.1:6653``. Nothing in it knows about OVN: it installs an
OpenFlow drop flow when the switch connects and logs the FLOW_REMOVED
messages it gets back. Set ``QUARANTINE`` in the environment to change the
address (default 10.0.1.11).
"""

from __future__ import annotations

import os
from typing import Any

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3

PRIORITY = 10
COOKIE = 0x51


class Quarantine(app_manager.OSKenApp):  # type: ignore[misc]
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)  # type: ignore[misc]
    def switch_features(self, ev: Any) -> None:
        datapath = ev.msg.datapath
        ofp, parser = datapath.ofproto, datapath.ofproto_parser
        address = os.environ.get("QUARANTINE", "10.0.1.11")
        match = parser.OFPMatch(eth_type=0x0800, ipv4_src=address)
        datapath.send_msg(
            parser.OFPFlowMod(
                datapath,
                cookie=COOKIE,
                priority=PRIORITY,
                flags=ofp.OFPFF_SEND_FLOW_REM,
                match=match,
                instructions=[],  # no instructions: drop
            )
        )
        datapath.send_msg(parser.OFPBarrierRequest(datapath))
        self.logger.info("quarantine: %s dropped on switch %016x", address, datapath.id)

    @set_ev_cls(ofp_event.EventOFPFlowRemoved, MAIN_DISPATCHER)  # type: ignore[misc]
    def flow_removed(self, ev: Any) -> None:
        msg = ev.msg
        self.logger.info(
            "flow removed: cookie=%#x priority=%d reason=%d", msg.cookie, msg.priority, msg.reason
        )
