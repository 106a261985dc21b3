"""A Kingdee K/3 Cloud (金蝶云星空) WebAPI, written from its documents and SDKs."""

from omnihub.simulators.backends.erp.kingdee.simulator import Bill, KingdeeSimulator

__all__ = ["Bill", "KingdeeSimulator"]
