"""What the server and the client both need: error codes, column values and types, model
signatures and MLmodel reading. Imports nothing else of Steward's and no server library."""
