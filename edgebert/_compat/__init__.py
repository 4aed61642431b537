"""Shims for third-party wheels that ship incomplete; each says what is missing and why it is safe."""
