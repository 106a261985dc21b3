"""The sales channels' platforms, one package each (``taobao`` serves Tmall too), each written
from its platform's documents and sharing no code with the adapter it imitates; and how our
own systems sign (``omnihub_signature``), for the mini-program's back end and the tills."""
