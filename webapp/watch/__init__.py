"""Watch: what the dashboard watches on its own, not for one viewer's stream.

The directory polls Burki's REST for the calls that are ongoing and the campaigns
that run (the overview and the wallboard read it), with the assistants' names its
lists need. It may import the relay, calls, the wire and alerts; the cluster (which
shares one poller between nodes), the pages and the root modules import it.
"""
