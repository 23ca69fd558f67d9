"""The market: order books, the exchange's ledger and risk engine, drivers, and the Mesa model on top."""
