"""Trading participants: leveraged traders, large holders, market makers and background flow."""
