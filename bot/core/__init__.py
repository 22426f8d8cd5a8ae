"""The transport-free conversation core: a message goes in, replies come out. Imports nothing from telegram."""
