"""What every platform's protocol shares, written once for both sides of the wire: the
adapters (``omnihub.adapters``) and the simulators that imitate the platforms
(``omnihub.simulators``) both use it. Only facts of the outside world live here (China's
administrative regions, the platforms' local time, which HTTP answers a retry may cure), never
a platform's own format: that is written twice on purpose, once by the adapter and once by its
simulator, so that a mistake on one side shows on the other."""
