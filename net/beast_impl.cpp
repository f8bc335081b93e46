// Compiles Boost.Beast's implementation once for the node
// (BOOST_BEAST_SEPARATE_COMPILATION), instead of in every file that uses it.
#include <boost/beast/src.hpp>
