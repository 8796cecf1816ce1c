DROP TABLE warning_events;
DROP TABLE warnings;
DROP TABLE rule_sets;
DROP TABLE fund_transfers;
DROP TABLE accounts;
DROP TABLE party_relations;
DROP TABLE parties;
