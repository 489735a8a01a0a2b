graph [
  directed 0
  Network "Abilene"
  label "Abilene"
  Creator "netbalance test fixture"
  node [
    id 0
    label "New York"
    Country "United States"
    Longitude -74.01
    Latitude 40.71
    Internal 1
  ]
  node [
    id 1
    label "Chicago"
    Country "United States"
    Longitude -87.65
    Latitude 41.85
    Internal 1
  ]
  node [
    id 2
    label "Washington DC"
    Country "United States"
    Longitude -77.04
    Latitude 38.9
    Internal 1
  ]
  node [
    id 3
    label "Seattle"
    Country "United States"
    Longitude -122.33
    Latitude 47.61
    Internal 1
  ]
  node [
    id 4
    label "Sunnyvale"
    Country "United States"
    Longitude -122.04
    Latitude 37.37
    Internal 1
  ]
  node [
    id 5
    label "Los Angeles"
    Country "United States"
    Longitude -118.24
    Latitude 34.05
    Internal 1
  ]
  node [
    id 6
    label "Denver"
    Country "United States"
    Longitude -104.98
    Latitude 39.74
    Internal 1
  ]
  node [
    id 7
    label "Kansas City"
    Country "United States"
    Longitude -94.63
    Latitude 39.11
    Internal 1
  ]
  node [
    id 8
    label "Houston"
    Country "United States"
    Longitude -95.36
    Latitude 29.76
    Internal 1
  ]
  node [
    id 9
    label "Atlanta"
    Country "United States"
    Longitude -84.39
    Latitude 33.75
    Internal 1
  ]
  node [
    id 10
    label "Indianapolis"
    Country "United States"
    Longitude -86.16
    Latitude 39.77
    Internal 1
  ]
  edge [
    source 0
    target 1
    LinkType "OC-192"
    LinkLabel "OC-192c"
    LinkSpeed "10"
    LinkSpeedUnits "G"
    LinkSpeedRaw 10000000000.0
  ]
  edge [
    source 0
    target 2
    LinkType "OC-192"
    LinkLabel "OC-192c"
  ]
  edge [
    source 1
    target 10
    LinkType "OC-192"
    LinkLabel "OC-192c"
    LinkSpeed "10"
    LinkSpeedUnits "G"
    LinkSpeedRaw 10000000000.0
  ]
  edge [
    source 2
    target 9
    LinkType "OC-192"
    LinkLabel "OC-192c"
  ]
  edge [
    source 3
    target 4
    LinkType "OC-192"
    LinkLabel "OC-192c"
    LinkSpeed "10"
    LinkSpeedUnits "G"
    LinkSpeedRaw 10000000000.0
  ]
  edge [
    source 3
    target 6
    LinkType "OC-192"
    LinkLabel "OC-192c"
  ]
  edge [
    source 4
    target 5
    LinkType "OC-192"
    LinkLabel "OC-192c"
    LinkSpeed "10"
    LinkSpeedUnits "G"
    LinkSpeedRaw 10000000000.0
  ]
  edge [
    source 4
    target 6
    LinkType "OC-192"
    LinkLabel "OC-192c"
  ]
  edge [
    source 5
    target 8
    LinkType "OC-192"
    LinkLabel "OC-192c"
    LinkSpeed "10"
    LinkSpeedUnits "G"
    LinkSpeedRaw 10000000000.0
  ]
  edge [
    source 6
    target 7
    LinkType "OC-192"
    LinkLabel "OC-192c"
  ]
  edge [
    source 7
    target 8
    LinkType "OC-192"
    LinkLabel "OC-192c"
    LinkSpeed "10"
    LinkSpeedUnits "G"
    LinkSpeedRaw 10000000000.0
  ]
  edge [
    source 7
    target 10
    LinkType "OC-192"
    LinkLabel "OC-192c"
  ]
  edge [
    source 8
    target 9
    LinkType "OC-192"
    LinkLabel "OC-192c"
    LinkSpeed "10"
    LinkSpeedUnits "G"
    LinkSpeedRaw 10000000000.0
  ]
  edge [
    source 9
    target 10
    LinkType "OC-192"
    LinkLabel "OC-192c"
  ]
]
