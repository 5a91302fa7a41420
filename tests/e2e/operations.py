"""GraphQL operations as the client sends them, for tests that speak raw HTTP."""

# The client's UpsertBucket, written against schema.graphql (capture.jsonl truncates it).
UPSERT_BUCKET = """
mutation UpsertBucket ($id: String, $name: String, $project: String, $entity: String, \
$groupName: String, $description: String, $displayName: String, $notes: String, \
$commit: String, $config: JSONString, $host: String, $debug: Boolean, $program: String, \
$repo: String, $jobType: String, $state: String, $sweep: String, $tags: [String!], \
$summaryMetrics: JSONString) {
\tupsertBucket(input: {id:$id,name:$name,groupName:$groupName,modelName:$project,\
entityName:$entity,description:$description,displayName:$displayName,notes:$notes,\
config:$config,commit:$commit,host:$host,debug:$debug,jobProgram:$program,jobRepo:$repo,\
jobType:$jobType,state:$state,sweep:$sweep,tags:$tags,summaryMetrics:$summaryMetrics}) {
\t\tbucket {
\t\t\tid
\t\t\tname
\t\t\tdisplayName
\t\t\tdescription
\t\t\tconfig
\t\t\tsweepName
\t\t\tproject {
\t\t\t\tid
\t\t\t\tname
\t\t\t\tentity {
\t\t\t\t\tid
\t\t\t\t\tname
\t\t\t\t}
\t\t\t}
\t\t\thistoryLineCount
\t\t}
\t\tinserted
\t}
}
"""
