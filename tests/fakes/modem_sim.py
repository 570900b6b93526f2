"""The fake modem's message stores (SM, ME, SR) and its answers to AT+CPMS, CMGR, CMGL, CMGD."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

CAPACITY = 30
Answer = tuple[list[str], str]  # information lines, final result


def _tpdu_length(pdu: str) -> int:
    return len(pdu) // 2 - int(pdu[:2], 16) - 1


class SimStorage:
    """Stored PDUs by storage and index, each with its <stat> (0 unread, 1 read)."""

    def __init__(self) -> None:
        self.boxes: dict[str, dict[int, tuple[int, str]]] = {"SM": {}, "ME": {}, "SR": {}}
        self.mem1 = "SM"  # where CMGR / CMGL / CMGD look

    def put(self, mem: str, pdu: str, *, stat: int) -> int:
        """Store a PDU at the lowest free index; return the index."""
        box = self.boxes[mem]
        index = next(i for i in range(len(box) + 1) if i not in box)
        box[index] = (stat, pdu)
        return index

    def cpms(self, upper: str) -> Answer:
        """AT+CPMS? or AT+CPMS="<mem1>"[,...]."""
        if upper == "AT+CPMS?":
            used = len(self.boxes[self.mem1])
            return [f'+CPMS: "{self.mem1}",{used},{CAPACITY},"{self.mem1}",{used},{CAPACITY}'], "OK"
        mem = upper.partition("=")[2].split(",")[0].strip('"')
        if mem not in self.boxes:
            return [], "+CMS ERROR: 302"
        self.mem1 = mem
        used = len(self.boxes[mem])
        return [f"+CPMS: {used},{CAPACITY},{used},{CAPACITY},{used},{CAPACITY}"], "OK"

    def command(self, upper: str) -> Answer:
        """AT+CMGL=4, AT+CMGR=<i> or AT+CMGD=<i> on <mem1>; reading marks a message read."""
        box = self.boxes[self.mem1]
        if upper == "AT+CMGL=4":
            lines: list[str] = []
            for index, (stat, pdu) in sorted(box.items()):
                lines += [f"+CMGL: {index},{stat},,{_tpdu_length(pdu)}", pdu]
                box[index] = (1 if stat == 0 else stat, pdu)
            return lines, "OK"
        index = int(upper.partition("=")[2].split(",")[0])
        if upper.startswith("AT+CMGD="):
            box.pop(index, None)
            return [], "OK"
        if index not in box:
            return [], "+CMS ERROR: 321"
        stat, pdu = box[index]
        box[index] = (1 if stat == 0 else stat, pdu)
        return [f"+CMGR: {stat},,{_tpdu_length(pdu)}", pdu], "OK"
