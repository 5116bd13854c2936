"""Channel adapters: one sub-package per channel, all behind the contract in channels.base."""
