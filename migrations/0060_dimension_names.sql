-- Dimension and value names (CONTRACT.md, Catalog: "Seeded dimension names, as the report words them"). Only a seeded
-- dimension still exactly as seeded gains its names; one an administrator has changed is left as it is. The names are
-- labels of the same codes, so the metric's recorded states (metric_history) that hold the seeded shape get them too:
-- an asOf report then shows the same words as today's.
UPDATE metrics SET dimensions =
    '[{"key":"venue","values":["government","community","enterprise","commercial"],"name":"场所","valueNames":{"government":"机关","community":"社区","enterprise":"企业","commercial":"商圈"}}]'
WHERE code = 'outreach.sessions' AND dimensions = '[{"key":"venue","values":["government","community","enterprise","commercial"]}]';

UPDATE metrics SET dimensions =
    '[{"key":"kind","values":["infringement","fraud"],"name":"类型","valueNames":{"infringement":"网站侵权","fraud":"网络诈骗"}}]'
WHERE code = 'leads.handled' AND dimensions = '[{"key":"kind","values":["infringement","fraud"]}]';

UPDATE metrics SET dimensions =
    '[{"key":"category","values":["pornography","gambling"],"name":"类别","valueNames":{"pornography":"涉黄","gambling":"涉赌"}}]'
WHERE code = 'websites.cleaned' AND dimensions = '[{"key":"category","values":["pornography","gambling"]}]';

UPDATE metric_history SET dimensions =
    '[{"key":"venue","values":["government","community","enterprise","commercial"],"name":"场所","valueNames":{"government":"机关","community":"社区","enterprise":"企业","commercial":"商圈"}}]'
WHERE code = 'outreach.sessions' AND dimensions = '[{"key":"venue","values":["government","community","enterprise","commercial"]}]';

UPDATE metric_history SET dimensions =
    '[{"key":"kind","values":["infringement","fraud"],"name":"类型","valueNames":{"infringement":"网站侵权","fraud":"网络诈骗"}}]'
WHERE code = 'leads.handled' AND dimensions = '[{"key":"kind","values":["infringement","fraud"]}]';

UPDATE metric_history SET dimensions =
    '[{"key":"category","values":["pornography","gambling"],"name":"类别","valueNames":{"pornography":"涉黄","gambling":"涉赌"}}]'
WHERE code = 'websites.cleaned' AND dimensions = '[{"key":"category","values":["pornography","gambling"]}]';
