"""dln layer."""
