"""Unit tests of the multihead-client SDK against small real servers on loopback."""
