# Test registration. Every tests/unit/test_*.c is a cmocka executable; every tests/it/test_*.py is an
# integration test run with Debian's /usr/bin/python3 (its python3-kafka, python3-confluent-kafka and
# python3-kazoo live there), told where the ferry binary is through FERRY_BIN.
find_library(CMOCKA_LIB cmocka REQUIRED)

file(GLOB UNIT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src ${UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  # test_<module>_*.c links only that module (and what it needs), so a module's tests build alone.
  string(REGEX REPLACE "^test_([a-z]+).*" "\\1" module ${name})
  set(lib ferrycore)
  if(TARGET ferry_${module})
    set(lib ferry_${module})
  endif()
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE ${lib} ${CMOCKA_LIB})
  add_test(NAME unit.${name} COMMAND ${name})
  set_tests_properties(unit.${name} PROPERTIES TIMEOUT 300 LABELS unit
    ENVIRONMENT "FERRY_TEST_TMP=${CMAKE_BINARY_DIR}/test-tmp")
endforeach()

set(IT_PYTHON /usr/bin/python3)
file(GLOB IT_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/it/test_*.py)
foreach(src ${IT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_test(NAME it.${name} COMMAND ${IT_PYTHON} ${src})
  set_tests_properties(it.${name} PROPERTIES TIMEOUT 900 LABELS it
    ENVIRONMENT "FERRY_BIN=$<TARGET_FILE:ferry>;FERRY_TEST_TMP=${CMAKE_BINARY_DIR}/test-tmp;PYTHONPATH=${CMAKE_SOURCE_DIR}/tests/it")
endforeach()

foreach(sub sim fuzz bench)
  if(EXISTS ${CMAKE_SOURCE_DIR}/tests/${sub}/CMakeLists.txt)
    add_subdirectory(${CMAKE_SOURCE_DIR}/tests/${sub} ${CMAKE_BINARY_DIR}/tests/${sub})
  endif()
endforeach()
