# Cross builds (cmake/aarch64-linux-gnu.cmake) cannot link the host's libraries: fmt is used
# header-only, nlohmann_json is header-only anyway, GoogleTest is built from Debian's sources
# (package googletest), and the host's headers for those three are made visible on their own.
set(FLINT_HOST_HEADERS ${CMAKE_BINARY_DIR}/host-headers)
file(MAKE_DIRECTORY ${FLINT_HOST_HEADERS})
foreach(dir fmt nlohmann)
  if(NOT EXISTS ${FLINT_HOST_HEADERS}/${dir})
    file(CREATE_LINK /usr/include/${dir} ${FLINT_HOST_HEADERS}/${dir} SYMBOLIC)
  endif()
endforeach()

add_library(flint_fmt_header_only INTERFACE)
target_compile_definitions(flint_fmt_header_only INTERFACE FMT_HEADER_ONLY)
target_include_directories(flint_fmt_header_only SYSTEM INTERFACE ${FLINT_HOST_HEADERS})
add_library(fmt::fmt ALIAS flint_fmt_header_only)

add_library(flint_json_header_only INTERFACE)
target_include_directories(flint_json_header_only SYSTEM INTERFACE ${FLINT_HOST_HEADERS})
add_library(nlohmann_json::nlohmann_json ALIAS flint_json_header_only)

if(FLINT_BUILD_TESTS)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
  add_subdirectory(/usr/src/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
  # Not our code: GCC 12 warns falsely inside it (-Wrestrict), and -Werror is for flint.
  target_compile_options(gtest PRIVATE -Wno-error)
  target_compile_options(gtest_main PRIVATE -Wno-error)
  if(NOT TARGET GTest::gtest)  # GoogleTest 1.12 defines these aliases itself
    add_library(GTest::gtest ALIAS gtest)
    add_library(GTest::gtest_main ALIAS gtest_main)
  endif()
endif()
