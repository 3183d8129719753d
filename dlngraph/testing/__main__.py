"""`python -m dlngraph.testing ...`: the scripted server standalone (see `server.main`)."""

from dlngraph.testing.server import main

main()
