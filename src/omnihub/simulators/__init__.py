"""Local imitations of the platforms and back ends the hub talks to: real HTTP servers on
127.0.0.1, for the demo and the tests. Each is written from its platform's documents and shares
no code with the adapter it checks (``omnihub.adapters``): a format written twice, once on each
side, is what lets a test catch a wrong field name or constant. Both sides may use
``omnihub.platforms`` (regions, local time, retry classification) and ``omnihub.domain``."""
