# Generates OUT (a .cpp) defining `sandboxd::console_asset()` (include/sandboxd/api/
# console_assets.h) over every file under DIR except README.md files: its name relative to
# DIR, a Content-Type from its extension, its bytes and a strong ETag (the first 16 hex
# digits of its SHA-256). Text files become raw string literals (without the sequence
# `)embedded"`, NUL or CR), split into pieces of at most 32 KiB; PNG images become byte
# arrays. Run at build time; re-runs when a file of DIR changes.
cmake_minimum_required(VERSION 3.25)

set(piece_size 32768)

# The Content-Type of `name` in `out`, and in `binary` whether it is embedded as bytes.
function(asset_type name out binary)
  get_filename_component(base "${name}" NAME)
  string(REGEX MATCH "[^.]*$" ext "${base}")
  string(TOLOWER "${ext}" ext)
  set(bin FALSE)
  if(base MATCHES "^LICENSE")
    set(type "text/plain; charset=utf-8")
  elseif(ext STREQUAL "html")
    set(type "text/html; charset=utf-8")
  elseif(ext STREQUAL "js" OR ext STREQUAL "mjs")
    set(type "text/javascript; charset=utf-8")
  elseif(ext STREQUAL "css")
    set(type "text/css; charset=utf-8")
  elseif(ext STREQUAL "svg")
    set(type "image/svg+xml")
  elseif(ext STREQUAL "png")
    set(type "image/png")
    set(bin TRUE)
  else()
    message(FATAL_ERROR "${DIR}/${name}: no Content-Type for this kind of file (cmake/embed_dir.cmake)")
  endif()
  set(${out} "${type}" PARENT_SCOPE)
  set(${binary} ${bin} PARENT_SCOPE)
endfunction()

# `text` as adjacent raw string literals of at most piece_size bytes each, never cutting
# a UTF-8 sequence, in `out`; their number in `count`. Each piece adds piece_overhead
# bytes to the text.
set(piece_overhead 26)  # "\n    R\"embedded(" and ")embedded\""
function(raw_literals text out count)
  string(LENGTH "${text}" size)
  set(code "")
  set(pos 0)
  set(n 0)
  while(pos LESS size)
    math(EXPR end "${pos} + ${piece_size}")
    if(end LESS size)
      # Back off while the byte at `end` continues a UTF-8 sequence (10xxxxxx).
      while(TRUE)
        string(SUBSTRING "${text}" ${end} 1 byte)
        string(HEX "${byte}" hex)
        if(NOT hex MATCHES "^[89ab]")
          break()
        endif()
        math(EXPR end "${end} - 1")
      endwhile()
    else()
      set(end ${size})
    endif()
    math(EXPR len "${end} - ${pos}")
    string(SUBSTRING "${text}" ${pos} ${len} piece)
    string(APPEND code "\n    R\"embedded(${piece})embedded\"")
    math(EXPR n "${n} + 1")
    set(pos ${end})
  endwhile()
  if(code STREQUAL "")
    set(code " \"\"")
  endif()
  set(${out} "${code}" PARENT_SCOPE)
  set(${count} ${n} PARENT_SCOPE)
endfunction()

file(GLOB_RECURSE names RELATIVE "${DIR}" "${DIR}/*")
list(FILTER names EXCLUDE REGEX "(^|/)README\\.md$")
list(SORT names)

set(arrays "")
set(table "")
set(i 0)
foreach(name IN LISTS names)
  set(path "${DIR}/${name}")
  asset_type("${name}" type binary)
  file(SIZE "${path}" size)
  file(SHA256 "${path}" sha)
  string(SUBSTRING "${sha}" 0 16 etag)
  if(binary)
    file(READ "${path}" hex HEX)
    string(REGEX REPLACE "(..)" "'\\\\x\\1'," bytes "${hex}")
    string(APPEND arrays "constexpr char kAsset${i}[] = {${bytes}};\n")
  else()
    file(READ "${path}" text)
    string(FIND "${text}" ")embedded\"" clash)
    if(NOT clash EQUAL -1)
      message(FATAL_ERROR "${path} holds the raw string delimiter )embedded\"")
    endif()
    raw_literals("${text}" literals pieces)
    # CMake drops carriage returns and cuts at NUL bytes: the pieces must hold every byte.
    math(EXPR expected "${size} + ${pieces} * ${piece_overhead}")
    string(LENGTH "${literals}" got)
    if(size GREATER 0 AND NOT got EQUAL expected)
      message(FATAL_ERROR "${path} holds a NUL byte or a carriage return: a text file cannot be "
                          "embedded byte for byte with them (cmake/embed_dir.cmake)")
    endif()
    string(APPEND arrays "constexpr char kAsset${i}[] =${literals};\n")
  endif()
  string(APPEND table
         "    {\"${name}\", \"${type}\", {kAsset${i}, ${size}}, \"\\\"${etag}\\\"\"},\n")
  math(EXPR i "${i} + 1")
endforeach()

file(WRITE "${OUT}.tmp" "// Generated from ${DIR} by cmake/embed_dir.cmake. Do not edit.
#include <string_view>

#include \"sandboxd/api/console_assets.h\"

namespace sandboxd {
namespace {

${arrays}
constexpr ConsoleAsset kAssets[] = {
${table}};

}  // namespace

const ConsoleAsset* console_asset(std::string_view name) {
  for (const ConsoleAsset& a : kAssets) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace sandboxd
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
file(REMOVE "${OUT}.tmp")
