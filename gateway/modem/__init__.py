"""USB GSM modems in PDU mode: AT commands over serial, a pool of SIMs, and the PDU codec."""
