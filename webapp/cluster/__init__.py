"""Past one process: several dashboard nodes sharing Redis (``REDIS_URL``).

``bus`` speaks Redis (leases with fencing tokens, the capped input log of each
stream, the shared epoch); ``replica`` links one relayed stream to it. Without
``REDIS_URL`` nothing here is imported: the embedded default stays one process.
"""
