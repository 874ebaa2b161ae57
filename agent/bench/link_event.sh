#!/bin/sh
# pci:pcie_link_event (7.0+) in the lab: which of the kernel's emitters can fire under QEMU's emulated root port.
# The tracepoint is emitted where the kernel re-reads a port's Link Status (drivers/pci/pci.h
# __pcie_update_link_speed): a bus added (PCIE_ADD_BUS, pci_set_bus_speed at enumeration), the kernel's own
# retrain (PCIE_LINK_RETRAIN, pcie_retrain_link: ASPM common clock, the failed-link quirk, bwctrl's speed
# setting), the bandwidth controller (PCIE_BWCTRL_ENABLE/IRQ, only on ports with Link Bandwidth Notification
# Capability) and pciehp bringing a slot up (PCIE_HOTPLUG). Each step below tries one; the agent records.
# Run from the host:  lab/run shell --kernel 7.2 --out DIR -- sh agent/bench/link_event.sh
set -u
DEV=${DEV:-0000:01:00.0}
PORT=${PORT:-0000:00:02.0}
OUT=${OUT:-/out}
. "$(dirname "$0")/common.sh"
echo "kernel $(uname -r)"
lspci -vvv -s "${PORT#0000:}" 2>/dev/null | grep -E "LnkCap:|LnkCtl:|LnkSta:|SltCap:" | sed 's/^/  port: /'
ls /sys/bus/pci/devices/$PORT/ | grep -i -E "bwctrl|link" | sed 's/^/  sysfs: /'
ls /sys/bus/pci_express/devices/ 2>/dev/null | sed 's/^/  port services: /'
start_agent link --events pci_hp_event,pcie_link_event,reset.pci_bridge_secondary_bus_reset,reset.pci_reset_secondary_bus,user_reset.pci_reset_function
step() { echo "== $1"; sleep 1; }
step "1. Retrain Link set by hand in the port's Link Control (setpci): the hardware retrains, the kernel is not told"
setpci -s "${PORT#0000:}" CAP_EXP+10.w=0020:0020 && sleep 1
lspci -vvv -s "${PORT#0000:}" 2>/dev/null | grep -E "LnkSta:" | sed 's/^/  port: /'
step "2. a secondary bus reset of the port (sysfs reset of the endpoint with reset_method bus)"
echo bus >/sys/bus/pci/devices/$DEV/reset_method 2>/dev/null && echo 1 >/sys/bus/pci/devices/$DEV/reset && echo "  reset done"
step "3. the port removed and the bus rescanned: its secondary bus is added again (PCIE_ADD_BUS)"
echo 1 >/sys/bus/pci/devices/$PORT/remove && sleep 2 && echo 1 >/sys/bus/pci/rescan && sleep 3
ls /sys/bus/pci/devices/ | sed 's/^/  after rescan: /' | tr '\n' ' '; echo
sleep 2
kill -INT $a
wait $a
tail -2 "$OUT/link-agent.err"
echo "link events recorded:"
grep -E '"(pcie.link_event|pci.hp_event)"' "$OUT/link.jsonl" | sed 's/^/  /'
