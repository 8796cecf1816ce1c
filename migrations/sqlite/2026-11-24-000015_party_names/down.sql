DROP INDEX parties_name;
