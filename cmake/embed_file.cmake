# Generates OUT (a .cpp) defining `std::string_view sandboxd::FUNC()` that returns the
# bytes of IN (a text file without the sequence `)embedded"`). Run at build time;
# re-runs when IN changes.
file(READ "${IN}" text)
string(FIND "${text}" ")embedded\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} holds the raw string delimiter )embedded\"")
endif()
file(WRITE "${OUT}.tmp" "// Generated from ${IN} by cmake/embed_file.cmake. Do not edit.\n#include <string_view>\n\nnamespace sandboxd {\n\nstd::string_view ${FUNC}() {\n  static constexpr char kText[] = R\"embedded(${text})embedded\";\n  return {kText, sizeof kText - 1};\n}\n\n}  // namespace sandboxd\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
file(REMOVE "${OUT}.tmp")
