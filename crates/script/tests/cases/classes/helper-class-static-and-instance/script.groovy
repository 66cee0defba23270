class StatusMapper {
  static final Map<String, String> TABLE = ["Done": "Resolved", "In Progress": "Active"]
  static int calls = 0
  String fallback = "New"

  static String map(String s) {
    calls++
    return TABLE[s] ?: "New"
  }

  String describe(String s) { "${map(s)} (fallback ${fallback})".toString() }
}
def m = new StatusMapper(fallback: "Open")
return [StatusMapper.map("Done"), StatusMapper.map("x"), m.describe("In Progress"), StatusMapper.calls, m.fallback]
