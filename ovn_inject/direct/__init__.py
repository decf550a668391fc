"""Database commands without click: the settings they share with the CLI, and ``flow-add`` run directly.

A script's ``ovn-inject --wait=sb flow-add ...`` pays, per call, for every
module it imports; click (and the CLI's command table) is a fifth of that.
:mod:`ovn_inject.direct.dispatch` parses that one command's arguments itself
and runs the same code as the click command (:mod:`ovn_inject.direct.flow_add`);
anything it does not recognise goes to click, which then answers as always.
"""
