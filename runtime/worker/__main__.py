from runtime.worker._server import main

raise SystemExit(main())
