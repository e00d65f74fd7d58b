# Writes OUT, a C file holding the live page's files of WEB_DIR as byte arrays (bp_web_assets,
# src/ops/http.h), so bppipe serves them itself: no internet, no CDN, nothing installed beside it.
set(files "index.html|/|text/html"
          "live.js|/live.js|text/javascript"
          "alarms.js|/alarms.js|text/javascript"
          "live.css|/live.css|text/css")
set(out "/* Generated from web/ by cmake/bppipe_embed_web.cmake: do not edit. */\n")
string(APPEND out "#include \"ops/http.h\"\n\n")
set(table "")
set(i 0)
foreach(entry IN LISTS files)
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 name)
  list(GET parts 1 url)
  list(GET parts 2 type)
  file(READ "${WEB_DIR}/${name}" hex HEX)
  string(LENGTH "${hex}" hex_len)
  math(EXPR len "${hex_len} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND out "static const unsigned char asset${i}[] = {\n    ${bytes}0};\n")
  string(APPEND table "    {\"${url}\", \"${type}; charset=utf-8\", asset${i}, ${len}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND out "\nconst bp_web_asset bp_web_assets[] = {\n${table}};\n")
string(APPEND out "const size_t bp_web_asset_count = ${i};\n")
file(WRITE "${OUT}.tmp" "${out}")
file(RENAME "${OUT}.tmp" "${OUT}")
