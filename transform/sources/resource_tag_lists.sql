-- resource_tag_lists: each tagged resource's tags as FOCUS keys and values (resource_tags: `k=v` and `k:v` split,
-- a bare tag is `true`), as two parallel arrays sorted by key, one value per key (any of them, when a resource has
-- a key twice: `team=a` and `team:b`, as cost-allocation always took); the table resource_tag_lists (recomputed
-- whole at each load: it is as big as the resources ever seen).

SELECT organization_id, resource_id, arrayMap(t -> t.1, tags) AS keys, arrayMap(t -> t.2, tags) AS tag_values
FROM
(
    SELECT organization_id, resource_id, arraySort(groupArray((tag_key, tag_value))) AS tags
    FROM
    (
        SELECT organization_id, resource_id, tag_key, any(tag_value) AS tag_value
        FROM resource_tags
        GROUP BY organization_id, resource_id, tag_key
    )
    GROUP BY organization_id, resource_id
);
