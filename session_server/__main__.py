from session_server.cli import main

main()
