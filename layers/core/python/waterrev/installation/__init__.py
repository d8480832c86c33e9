"""Connection applications (报装, IF-INST-001..005): application, survey, contract signing with an
e-signature service, its callback, archive with an evidence hash; on completion the customer, its
account and its meter."""
